"""Loopback SMTP sink for the integration tests, built on aiosmtpd.

Usage: smtp_sink.py DIR [CERT KEY]

Each accepted message is written to DIR/<n>.eml exactly as received, after
two lines with the envelope (X-MailFrom, X-RcptTo). A recipient whose
address starts with "reject" is refused with 550, as a relay refuses an
unknown mailbox. Listens on a port the kernel picks, prints "ready PORT"
once listening (so no test guesses a free port), and exits when its
standard input closes (the test process ended).

With CERT and KEY (PEM files) it offers STARTTLS with them and refuses
mail before it (require_starttls); every stored message then starts with
X-TLS: yes or no.
"""
import asyncio
import itertools
import pathlib
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("reject"):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        head = "X-TLS: %s\r\nX-MailFrom: %s\r\nX-RcptTo: %s\r\n" % (
            "yes" if session.ssl is not None else "no",
            envelope.mail_from,
            ", ".join(envelope.rcpt_tos),
        )
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        tmp = self.directory / (".%d.tmp" % n)
        tmp.write_bytes(head.encode("ascii") + data)
        tmp.rename(self.directory / ("%06d.eml" % n))
        return "250 Message accepted"


async def serve(directory, tls_context):
    loop = asyncio.get_running_loop()
    sink = Sink(directory)  # one numbering for every connection
    server = await loop.create_server(
        lambda: SMTP(sink, tls_context=tls_context, require_starttls=tls_context is not None),
        "127.0.0.1",
        0,
    )
    port = server.sockets[0].getsockname()[1]
    print("ready", port, flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


def main():
    directory = pathlib.Path(sys.argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    tls_context = None
    if len(sys.argv) >= 4:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(sys.argv[2], sys.argv[3])
    asyncio.run(serve(directory, tls_context))


if __name__ == "__main__":
    main()
