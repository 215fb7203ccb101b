"""What runs inside the grading sandbox: the fork server, the guard, and their pipe protocol.

Import-free, like everything this folder's modules import at their top: a kernel forked from
the fork server must not pay for, nor trust, anything the host side uses.
"""
