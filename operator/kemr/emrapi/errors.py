"""EMR's error shape: `{"__type": "<Code>", "Message": "..."}` with an HTTP status, as the AWS JSON 1.1
protocol returns errors and botocore raises them (`ClientError.response["Error"]["Code"]`)."""

from __future__ import annotations


class EmrApiError(Exception):
    """An error answered to the client in EMR's shape. `code` is the `__type` the SDKs raise by name."""

    code = "InternalServerException"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, str]:
        """The JSON body: {"__type": code, "Message": message}."""
        return {"__type": self.code, "Message": self.message}


class InternalServerError(EmrApiError):
    """kemr or Kubernetes failed in a way that is not the caller's doing (logged); SDKs retry it."""

    code = "InternalServerError"
    status = 500


class ValidationException(EmrApiError):
    """A request that does not match the operation's input shape (a field missing, of the wrong type or
    out of range). The message names the field as EMR's API spells it, e.g. `Instances.InstanceGroups[1]`."""

    code = "ValidationException"
    status = 400


class InvalidRequestException(EmrApiError):
    """A well-formed request kemr cannot carry out: an unknown cluster or step id, an unsupported operation
    or value (EMR's own code for these)."""

    code = "InvalidRequestException"
    status = 400


class AccessDeniedException(EmrApiError):
    """The access key's identity may not do this (Kubernetes RBAC refused the call)."""

    code = "AccessDeniedException"
    status = 403


class MissingAuthenticationTokenException(EmrApiError):
    """No SigV4 Authorization header."""

    code = "MissingAuthenticationTokenException"
    status = 403


class UnrecognizedClientException(EmrApiError):
    """The access key id is not one of kemr's (AWS's wording: the security token is invalid)."""

    code = "UnrecognizedClientException"
    status = 403


class InvalidSignatureException(EmrApiError):
    """The signature does not match the secret key, or its time is outside the allowed skew (botocore
    reads "Signature expired" in the message as clock skew and retries with a corrected clock)."""

    code = "InvalidSignatureException"
    status = 403


class UnknownOperationException(EmrApiError):
    """A target that is not an operation of ElasticMapReduce at all."""

    code = "UnknownOperationException"
    status = 400
