#!/usr/bin/python3
"""rua_pack.py - pack the sample aggregate reports of test/reports the way
receivers send them, for test_report_import.sh (Python's standard library
only: zipfile, gzip, email).

  rua_pack.py zip XML OUT NAME        one-entry zip, deflated (Google)
  rua_pack.py gz XML OUT              gzip file
  rua_pack.py mime FILE OUT TYPE NAME SUBJECT
                                      a mail message: a text part, then FILE
                                      attached base64 as TYPE named NAME
  rua_pack.py zipbomb OUT MB [lie]    a zip whose report.xml inflates to MB
                                      MiB of blanks; with "lie", its headers
                                      say 1000 bytes
  rua_pack.py gzbomb OUT MB           the same as a gzip file
"""
import gzip
import struct
import sys
import zipfile
from email.message import EmailMessage

CHUNK = b" " * (1 << 20)


def main(argv):
    cmd = argv[1]
    if cmd == "zip":
        with zipfile.ZipFile(argv[3], "w", zipfile.ZIP_DEFLATED) as z:
            z.write(argv[2], argv[4])
    elif cmd == "gz":
        with open(argv[2], "rb") as f, gzip.open(argv[3], "wb") as g:
            g.write(f.read())
    elif cmd == "mime":
        msg = EmailMessage()
        msg["From"] = "dmarcreport@receiver.example"
        msg["To"] = "dmarc@customer.example"
        msg["Subject"] = argv[6]
        msg["Message-ID"] = "<rua.%s@receiver.example>" % argv[5]
        msg.set_content("This is a DMARC aggregate report.\n")
        maintype, subtype = argv[4].split("/")
        with open(argv[2], "rb") as f:
            msg.add_attachment(f.read(), maintype=maintype, subtype=subtype,
                               filename=argv[5])
        with open(argv[3], "wb") as f:
            f.write(bytes(msg))
    elif cmd == "zipbomb":
        with zipfile.ZipFile(argv[2], "w", zipfile.ZIP_DEFLATED) as z:
            with z.open("report.xml", "w") as w:
                w.write(b"<feedback>")
                for _ in range(int(argv[3])):
                    w.write(CHUNK)
        if len(argv) > 4 and argv[4] == "lie":
            data = bytearray(open(argv[2], "rb").read())
            # uncompressed size: local header +22, central header +24
            lh = data.find(b"PK\x03\x04")
            cd = data.find(b"PK\x01\x02")
            struct.pack_into("<I", data, lh + 22, 1000)
            struct.pack_into("<I", data, cd + 24, 1000)
            open(argv[2], "wb").write(bytes(data))
    elif cmd == "gzbomb":
        with gzip.open(argv[2], "wb") as g:
            for _ in range(int(argv[3])):
                g.write(CHUNK)
    else:
        sys.exit("rua_pack.py: unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
