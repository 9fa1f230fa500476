"""Integration test bed: real OpenBao, real sshd mini hosts, loopback-only network."""
