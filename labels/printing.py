"""Send ZPL to a network label printer over raw TCP (SPEC.md §6).

Zebra printers take ZPL on a raw TCP port (9100 by default) and send nothing
back, so a print is: connect, send every byte, shut the sending side down
(the printer sees the end of the job), close.  Pure: no Flask, no database;
counting and auditing prints is the caller's job.
"""

from __future__ import annotations

import socket

DEFAULT_PORT = 9100


class PrinterUnavailable(Exception):
    """The printer could not be reached or dropped the job; the message says
    which printer (``host:port``) and what happened, for the person printing."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(f"Printer {_address(host, port)} {reason}")


def send_zpl(host: str, port: int, data: bytes, timeout: float = 5.0) -> None:
    """Send ``data`` (a ZPL job) to the printer at ``host:port`` over raw TCP.

    ``timeout`` (seconds) bounds the connection and each send.  Raises
    :class:`PrinterUnavailable` when the printer refuses the connection,
    cannot be reached, does not answer in time or resets the connection;
    ``ValueError`` for an empty job or a bad port or timeout.
    """
    if not isinstance(data, bytes | bytearray | memoryview) or not data:
        raise ValueError("a print job needs some ZPL bytes")
    if not 0 < port < 65536:
        raise ValueError(f"port must be 1-65535, not {port}")
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, not {timeout}")
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.sendall(data)
            connection.shutdown(socket.SHUT_WR)
    except ConnectionRefusedError as exc:
        raise PrinterUnavailable(
            host, port, "refused the connection: is it on, with raw printing on that port?"
        ) from exc
    except TimeoutError as exc:
        raise PrinterUnavailable(host, port, f"did not answer within {timeout:g} s") from exc
    except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as exc:
        raise PrinterUnavailable(
            host, port, "closed the connection before the whole label was sent"
        ) from exc
    except socket.gaierror as exc:
        raise PrinterUnavailable(host, port, f"is unknown: {exc.strerror}") from exc
    except OSError as exc:
        raise PrinterUnavailable(
            host, port, f"cannot be reached: {exc.strerror or exc}"
        ) from exc


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
