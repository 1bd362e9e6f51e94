"""Constraints for free text arriving over HTTP.

PostgreSQL refuses the NUL character in text, so without this an input carrying one would surface
as a 500 instead of a clear 422; other C0 controls have no business in a name or a reason either.
"""

#: Printable text: no NUL and no C0 control character except tab, line feed and carriage return.
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
#: An identifier (request id, wallet id, officer id in a filter): no control character at all.
IDENTIFIER = r"^[^\x00-\x1f\x7f]*$"
