"""Domain errors: the command side's vocabulary of refusals (mapped to HTTP in one table)."""


class DomainRefusal(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(DomainRefusal):
    """The thing does not exist *for this user* (another user's graph looks missing)."""


class ConflictError(DomainRefusal):
    pass


class InvalidCommand(DomainRefusal):
    pass


class Forbidden(DomainRefusal):
    """The user may not do this to this thing, and may know it exists (e.g. a system credential)."""


class PayloadTooLarge(DomainRefusal):
    """What the command would record is over the event size limit (HTTP 413)."""
