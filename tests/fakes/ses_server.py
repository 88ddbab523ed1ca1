"""moto's SES endpoint for the integration tests.

Listens on 127.0.0.1 on a port the kernel picks, prints "ready PORT" once
listening, and exits when its standard input closes (the test process
ended).
"""
import sys

from moto.server import ThreadedMotoServer


def main():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print("ready", port, flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
