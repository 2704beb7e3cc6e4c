"""Raw TCP printing (SPEC §6): against real sockets on the loopback interface only."""

import queue
import socket
import socketserver
import struct
import threading
from contextlib import contextmanager

import pytest

from labels import rendering
from labels.printing import PrinterUnavailable, send_zpl
from tests.labels.test_rendering import make_label

LOOPBACK = "127.0.0.1"


class _Received(socketserver.BaseRequestHandler):
    """Reads one job until the sender shuts its side down, like a Zebra printer."""

    def handle(self) -> None:
        self.request.settimeout(5)
        chunks = []
        while chunk := self.request.recv(65536):
            chunks.append(chunk)
        self.server.jobs.put(b"".join(chunks))


@contextmanager
def fake_printer():
    server = socketserver.TCPServer((LOOPBACK, 0), _Received)
    server.jobs = queue.Queue()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@contextmanager
def bound_port():
    """A loopback port that is bound but not listening: connections are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOOPBACK, 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_send_zpl_delivers_the_label_bytes():
    data = rendering.dose_label_zpl(make_label())
    with fake_printer() as printer:
        port = printer.server_address[1]
        send_zpl(LOOPBACK, port, data, timeout=2)
        send_zpl(LOOPBACK, port, b"^XA^XZ", timeout=2)
        received = [printer.jobs.get(timeout=5), printer.jobs.get(timeout=5)]
    assert received == [data, b"^XA^XZ"]


def test_refused_connection_names_the_printer():
    with bound_port() as port, pytest.raises(PrinterUnavailable) as raised:
        send_zpl(LOOPBACK, port, b"^XA^XZ", timeout=2)
    assert f"{LOOPBACK}:{port}" in str(raised.value)
    assert "refused" in str(raised.value)
    assert (raised.value.host, raised.value.port) == (LOOPBACK, port)


def _big_job() -> bytes:
    return b"^XA^FO10,10^FDx^FS^XZ\n" * 2_000_000  # ~46 MB: more than the socket buffers


def test_printer_that_never_reads_times_out():
    listener = socket.create_server((LOOPBACK, 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    port = listener.getsockname()[1]
    try:
        with pytest.raises(PrinterUnavailable, match=rf"{LOOPBACK}:{port} did not answer"):
            send_zpl(LOOPBACK, port, _big_job(), timeout=0.3)
    finally:
        listener.close()


def test_printer_that_resets_the_connection():
    listener = socket.create_server((LOOPBACK, 0))
    port = listener.getsockname()[1]

    def reset_first_connection() -> None:
        connection, _ = listener.accept()
        linger_zero = struct.pack("ii", 1, 0)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)
        connection.close()  # linger 0: the peer gets a RST

    thread = threading.Thread(target=reset_first_connection)
    thread.start()
    try:
        with pytest.raises(PrinterUnavailable, match=rf"{LOOPBACK}:{port} closed the connection"):
            send_zpl(LOOPBACK, port, _big_job(), timeout=5)
    finally:
        thread.join(timeout=5)
        listener.close()


@pytest.mark.parametrize(
    ("port", "data", "timeout"),
    [(0, b"^XA^XZ", 1), (70000, b"^XA^XZ", 1), (9100, b"", 1), (9100, "^XA^XZ", 1),
     (9100, b"^XA", 0)],
)
def test_send_zpl_refuses_bad_arguments(port, data, timeout):
    with pytest.raises(ValueError):
        send_zpl(LOOPBACK, port, data, timeout=timeout)
