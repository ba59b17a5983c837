/*
 * protocol.h - the Sendmail milter protocol, version 6, as the MTA speaks
 * it (Postfix 2.6+, Sendmail 8.14+): command and reply codes, action and
 * protocol-step bits. These are wire facts; the values are fixed by the
 * protocol and must not change.
 *
 * A packet is a 4-byte length in network byte order (counting the command
 * byte and the data), one command byte, then the data.
 */
#ifndef AUTHMILTER_PROTOCOL_H
#define AUTHMILTER_PROTOCOL_H

#define PROTO_VERSION		6	/* the version we answer with */
#define PROTO_MIN_VERSION	2	/* oldest MTA version we talk to */

/* Sizes on the wire, in bytes. */
#define PROTO_LEN_SIZE		4	/* the length word before each packet */
#define PROTO_HEAD_SIZE		(PROTO_LEN_SIZE + 1) /* length word, command */
#define PROTO_WORD_SIZE		4	/* a number: OPTNEG words, header index */
#define PROTO_OPTNEG_SIZE	(3 * PROTO_WORD_SIZE) /* version actions protocol */
#define PROTO_PORT_SIZE		2	/* the client port in CONNECT */

/* Commands, MTA -> filter. */
#define PROTO_C_ABORT		'A'	/* abandon the current message */
#define PROTO_C_BODY		'B'	/* a body chunk */
#define PROTO_C_CONNECT		'C'	/* host\0 family [port addr\0] */
#define PROTO_C_MACRO		'D'	/* cmd name\0value\0 ... */
#define PROTO_C_BODYEOB		'E'	/* end of message (may carry body) */
#define PROTO_C_HELO		'H'	/* helo\0 */
#define PROTO_C_QUIT_NC		'K'	/* quit, a new connection follows */
#define PROTO_C_HEADER		'L'	/* name\0value\0 */
#define PROTO_C_MAIL		'M'	/* sender\0 args\0 ... */
#define PROTO_C_EOH		'N'	/* end of headers */
#define PROTO_C_OPTNEG		'O'	/* version actions protocol (3 x 4) */
#define PROTO_C_QUIT		'Q'	/* end of connection */
#define PROTO_C_RCPT		'R'	/* recipient\0 args\0 ... */
#define PROTO_C_DATA		'T'	/* DATA */
#define PROTO_C_UNKNOWN		'U'	/* unknown SMTP command */

/* Replies and modifications, filter -> MTA. */
#define PROTO_R_ADDRCPT		'+'	/* rcpt\0 */
#define PROTO_R_DELRCPT		'-'	/* rcpt\0 */
#define PROTO_R_ACCEPT		'a'	/* accept; no more for this message */
#define PROTO_R_REPLBODY	'b'
#define PROTO_R_CONTINUE	'c'
#define PROTO_R_DISCARD		'd'
#define PROTO_R_CHGFROM		'e'	/* from\0 [args\0] */
#define PROTO_R_ADDHEADER	'h'	/* name\0value\0 */
#define PROTO_R_INSHEADER	'i'	/* index name\0value\0 */
#define PROTO_R_CHGHEADER	'm'	/* index name\0value\0; empty deletes */
#define PROTO_R_OPTNEG		'O'	/* version actions protocol [lists] */
#define PROTO_R_PROGRESS	'p'
#define PROTO_R_QUARANTINE	'q'	/* reason\0 */
#define PROTO_R_REJECT		'r'
#define PROTO_R_TEMPFAIL	't'
#define PROTO_R_REPLYCODE	'y'	/* "550 5.7.1 text"\0 */

/* Actions the filter may take (OPTNEG word 2). */
#define PROTO_F_ADDHDRS		0x001UL
#define PROTO_F_CHGBODY		0x002UL
#define PROTO_F_ADDRCPT		0x004UL
#define PROTO_F_DELRCPT		0x008UL
#define PROTO_F_CHGHDRS		0x010UL
#define PROTO_F_QUARANTINE	0x020UL
#define PROTO_F_CHGFROM		0x040UL
#define PROTO_F_ADDRCPT_PAR	0x080UL
#define PROTO_F_SETSYMLIST	0x100UL

/* Protocol steps (OPTNEG word 3): skip a command, or send no reply to it. */
#define PROTO_P_NOCONNECT	0x000001UL
#define PROTO_P_NOHELO		0x000002UL
#define PROTO_P_NOMAIL		0x000004UL
#define PROTO_P_NORCPT		0x000008UL
#define PROTO_P_NOBODY		0x000010UL
#define PROTO_P_NOHDRS		0x000020UL
#define PROTO_P_NOEOH		0x000040UL
#define PROTO_P_NR_HDR		0x000080UL
#define PROTO_P_NOUNKNOWN	0x000100UL
#define PROTO_P_NODATA		0x000200UL
#define PROTO_P_SKIP		0x000400UL
#define PROTO_P_RCPT_REJ	0x000800UL
#define PROTO_P_NR_CONN		0x001000UL
#define PROTO_P_NR_HELO		0x002000UL
#define PROTO_P_NR_MAIL		0x004000UL
#define PROTO_P_NR_RCPT		0x008000UL
#define PROTO_P_NR_DATA		0x010000UL
#define PROTO_P_NR_UNKN		0x020000UL
#define PROTO_P_NR_EOH		0x040000UL
#define PROTO_P_NR_BODY		0x080000UL
#define PROTO_P_HDR_LEADSPC	0x100000UL

/* Macro stages for the SETSYMLIST lists in the OPTNEG reply. */
#define PROTO_M_CONNECT		0
#define PROTO_M_HELO		1
#define PROTO_M_ENVFROM		2
#define PROTO_M_ENVRCPT		3
#define PROTO_M_DATA		4
#define PROTO_M_EOM		5
#define PROTO_M_EOH		6
#define PROTO_M_NSTAGES		7

#endif
