"""Network isolation guard: the bed may only ever talk over loopback."""

import fcntl
import socket
import struct

WRAPPER_HINT = (
    "the integration bed must run in a network namespace that has only loopback; "
    "run it through the wrapper, e.g. `scripts/in-netns python -m pytest tests/integration`"
)
_SIOCGIFFLAGS = 0x8913
_IFF_UP = 0x1


def interfaces():
    """Interface names of this process's network namespace.

    /proc/self/net follows the caller's namespace; /sys/class/net does not (it shows the
    namespace sysfs was mounted in), so it must not be used here.
    """
    with open("/proc/self/net/dev") as f:
        return sorted(line.split(":", 1)[0].strip() for line in f.readlines()[2:])


def _is_up(name):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", name.encode(), 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, req))[1]
    return bool(flags & _IFF_UP)


def only_loopback():
    """True when the current network namespace holds nothing but `lo`, and `lo` is up."""
    return interfaces() == ["lo"] and _is_up("lo")


def ensure_isolated():
    """Refuse to start any part of the bed outside an isolated, loopback-only namespace."""
    if not only_loopback():
        names = ", ".join(interfaces()) or "none"
        raise RuntimeError(
            f"not isolated (interfaces: {names}; only lo, up, is allowed): {WRAPPER_HINT}"
        )
