"""A client for the Coffer wire protocol, version 1 (docs/PROTOCOL.md), standard library only.

    from coffer_client import Client, CofferError

    with Client("/run/coffer/coffer.sock") as coffer:
        coffer.create_secret("app/db-password", secret_string="hunter2")
        value = coffer.get_secret_value("app/db-password")["SecretString"]
        try:
            coffer.get_secret_value("no/such/secret")
        except CofferError as error:
            assert error.type == "ResourceNotFoundException"

Requests and responses are AWS-shaped dicts (the member names of AWS Secrets Manager), mapped as section 9 of the
spec says: ``str`` is a string (and SecretString), ``bytes`` is bytes (and SecretBinary), ``bool`` and ``int`` are
booleans and integers, ``datetime.datetime`` is a timestamp (returned timezone-aware in UTC), ``list`` is a list
and ``dict`` is a nested document.

A ``Client`` is not thread-safe: use one per thread. It pipelines: ``send`` several requests, then ``receive`` their
replies by request id in any order, or use ``call_many``.

Run as a script for AWS-CLI-shaped JSON in and out:

    python3 coffer_client.py GetSecretValue '{"SecretId": "app/db-password"}'
"""

import base64
import datetime
import json
import os
import socket
import struct
import sys
import uuid

__all__ = [
    "Client",
    "CofferError",
    "ProtocolError",
    "Frame",
    "FrameDecoder",
    "OPERATIONS",
    "encode_document",
    "decode_document",
    "encode_frame",
    "to_json",
    "from_json",
]

# Section 3: framing.
PROTOCOL_VERSION = 1
LENGTH_FIELD_SIZE = 4
HEADER_SIZE = 8
MIN_FRAME_LENGTH = HEADER_SIZE
MAX_FRAME_LENGTH = 262144  # header + body; Limits.maxFrameBytes
KIND_REQUEST = 0x01
KIND_RESPONSE = 0x02
KIND_ERROR = 0x03
CONNECTION_ERROR_REQUEST_ID = 0  # reserved for the error reply sent before closing on a bad length

# Section 4: documents.
TAG_FALSE = 0x01
TAG_TRUE = 0x02
TAG_INTEGER = 0x03
TAG_STRING = 0x04
TAG_BYTES = 0x05
TAG_TIMESTAMP = 0x06
TAG_LIST = 0x07
TAG_DOCUMENT = 0x08
MAX_NESTING_DEPTH = 32  # counting the body document as level 1
MAX_KEY_BYTES = 0xFFFF
MIN_MEMBER_SIZE = 3  # 2-byte key length, empty key, 1-byte value
MIN_VALUE_SIZE = 1
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

# Section 6: the daemon stops reading a connection with 64 requests in flight; stay below it.
PIPELINE_WINDOW = 32

DEFAULT_SOCKET = "/run/coffer/coffer.sock"
CLIENT_NAME = "coffer-python/0.1"

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MILLISECOND = datetime.timedelta(milliseconds=1)
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")
_HEADER = struct.Struct(">BBHI")
_PREFIX_AND_HEADER = struct.Struct(">IBBHI")

# Section 10: every operation and its code.
OPERATIONS = {
    "Hello": 0x0001,
    # AWS Secrets Manager
    "CreateSecret": 0x0101,
    "GetSecretValue": 0x0102,
    "PutSecretValue": 0x0103,
    "UpdateSecret": 0x0104,
    "UpdateSecretVersionStage": 0x0105,
    "DescribeSecret": 0x0106,
    "ListSecrets": 0x0107,
    "ListSecretVersionIds": 0x0108,
    "DeleteSecret": 0x0109,
    "RestoreSecret": 0x010A,
    "TagResource": 0x010B,
    "UntagResource": 0x010C,
    "GetRandomPassword": 0x010D,
    "BatchGetSecretValue": 0x010E,
    "PutResourcePolicy": 0x010F,
    "GetResourcePolicy": 0x0110,
    "DeleteResourcePolicy": 0x0111,
    "ValidateResourcePolicy": 0x0112,
    "RotateSecret": 0x0113,
    "CancelRotateSecret": 0x0114,
    # AWS IAM (admin socket)
    "PutUserPolicy": 0x0201,
    "GetUserPolicy": 0x0202,
    "DeleteUserPolicy": 0x0203,
    "ListUserPolicies": 0x0204,
    "PutGroupPolicy": 0x0205,
    "GetGroupPolicy": 0x0206,
    "DeleteGroupPolicy": 0x0207,
    "ListGroupPolicies": 0x0208,
    "PutRolePolicy": 0x0209,
    "GetRolePolicy": 0x020A,
    "DeleteRolePolicy": 0x020B,
    "ListRolePolicies": 0x020C,
    "CreatePolicy": 0x020D,
    "GetPolicy": 0x020E,
    "DeletePolicy": 0x020F,
    "ListPolicies": 0x0210,
    "CreatePolicyVersion": 0x0211,
    "GetPolicyVersion": 0x0212,
    "DeletePolicyVersion": 0x0213,
    "ListPolicyVersions": 0x0214,
    "SetDefaultPolicyVersion": 0x0215,
    "AttachUserPolicy": 0x0216,
    "DetachUserPolicy": 0x0217,
    "ListAttachedUserPolicies": 0x0218,
    "AttachGroupPolicy": 0x0219,
    "DetachGroupPolicy": 0x021A,
    "ListAttachedGroupPolicies": 0x021B,
    "AttachRolePolicy": 0x021C,
    "DetachRolePolicy": 0x021D,
    "ListAttachedRolePolicies": 0x021E,
    "CreateRole": 0x021F,
    "GetRole": 0x0220,
    "DeleteRole": 0x0221,
    "ListRoles": 0x0222,
    "SimulateCustomPolicy": 0x0223,
    "SimulatePrincipalPolicy": 0x0224,
    # Administration (admin socket)
    "Status": 0x0301,
    "Seal": 0x0302,
    "Unseal": 0x0303,
    "RotateMasterKey": 0x0304,
    "Backup": 0x0305,
    "AuditQuery": 0x0306,
    "AuditVerify": 0x0307,
    "Reload": 0x0308,
    "Metrics": 0x0309,
    "ImportSecrets": 0x030A,
}
OPERATION_NAMES = {code: name for name, code in OPERATIONS.items()}
_OPERATIONS_LOWER = {name.lower(): code for name, code in OPERATIONS.items()}


class CofferError(Exception):
    """An error reply (section 8): ``type`` is the AWS error name, ``message`` the explanation."""

    def __init__(self, type, message=""):
        super().__init__("%s: %s" % (type, message))
        self.type = type
        self.message = message


class ProtocolError(Exception):
    """Bytes that do not follow the spec (section 4.3), or a peer that broke the protocol.

    ``rule`` names the rule, as the Swift ``ProtocolError`` cases do (``truncated``, ``unknownTag``,
    ``invalidUTF8``, ``lengthPastEnd``, ``countTooLarge``, ``duplicateKey``, ``nestingTooDeep``,
    ``trailingBytes``, ``frameTooShort``, ``frameTooLarge``, …); ``offset`` is the byte offset in the body.
    """

    def __init__(self, rule, message, offset=None):
        super().__init__(message if offset is None else "%s (at offset %d)" % (message, offset))
        self.rule = rule
        self.offset = offset


# --------------------------------------------------------------------------------------------------------------------
# Documents (section 4)


def encode_document(document):
    """The encoding of a dict as a document: ``uint32 count`` then the members, in the dict's order."""
    out = bytearray()
    _write_document(out, document, 1)
    return bytes(out)


def _write_document(out, document, depth):
    if not isinstance(document, dict):
        raise TypeError("a document must be a dict, not %s" % type(document).__name__)
    out += _U32.pack(len(document))
    for key, value in document.items():
        if not isinstance(key, str):
            raise TypeError("document keys must be str, not %s" % type(key).__name__)
        raw = key.encode("utf-8")
        if len(raw) > MAX_KEY_BYTES:
            raise ValueError("key of %d bytes exceeds %d" % (len(raw), MAX_KEY_BYTES))
        out += _U16.pack(len(raw))
        out += raw
        _write_value(out, value, depth, key)


def _write_value(out, value, depth, path):
    # bool before int: bool is a subclass of int.
    if value is True:
        out.append(TAG_TRUE)
    elif value is False:
        out.append(TAG_FALSE)
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError("%s: integer %d does not fit int64" % (path, value))
        out.append(TAG_INTEGER)
        out += _I64.pack(value)
    elif isinstance(value, str):
        raw = value.encode("utf-8")  # raises UnicodeEncodeError for lone surrogates
        out.append(TAG_STRING)
        out += _U32.pack(len(raw))
        out += raw
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        out.append(TAG_BYTES)
        out += _U32.pack(len(raw))
        out += raw
    elif isinstance(value, datetime.datetime):
        out.append(TAG_TIMESTAMP)
        out += _I64.pack(_milliseconds(value))
    elif isinstance(value, (list, tuple)):
        if depth >= MAX_NESTING_DEPTH:
            raise ValueError("%s: nesting deeper than %d" % (path, MAX_NESTING_DEPTH))
        out.append(TAG_LIST)
        out += _U32.pack(len(value))
        for index, element in enumerate(value):
            _write_value(out, element, depth + 1, "%s[%d]" % (path, index))
    elif isinstance(value, dict):
        if depth >= MAX_NESTING_DEPTH:
            raise ValueError("%s: nesting deeper than %d" % (path, MAX_NESTING_DEPTH))
        out.append(TAG_DOCUMENT)
        _write_document(out, value, depth + 1)
    elif value is None:
        raise TypeError("%s: None is not a value; leave the member out instead" % path)
    else:
        raise TypeError("%s: cannot encode %s" % (path, type(value).__name__))


def _milliseconds(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)  # naive datetimes are taken as UTC
    return (moment - _EPOCH) // _MILLISECOND


def decode_document(data):
    """A body (exactly one document, nothing after it) as a dict. Raises ``ProtocolError`` on malformed input."""
    view = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    reader = _Reader(view)
    document = reader.document(1)
    if reader.index != len(view):
        raise ProtocolError("trailingBytes", "unexpected bytes after the document", reader.index)
    return document


class _Reader:
    __slots__ = ("data", "index")

    def __init__(self, data):
        self.data = data
        self.index = 0

    def _fixed(self, size, unpack):
        start = self.index
        if len(self.data) - start < size:
            raise ProtocolError("truncated", "truncated field", start)
        self.index = start + size
        return unpack(self.data, start)[0]

    def _payload(self, length, length_offset):
        start = self.index
        if length > len(self.data) - start:
            raise ProtocolError("lengthPastEnd", "length %d runs past the end of the body" % length, length_offset)
        self.index = start + length
        return bytes(self.data[start : start + length])

    def _text(self, raw, offset):
        try:
            return raw.decode("utf-8")  # strict: rejects overlong forms, surrogates and truncated sequences
        except UnicodeDecodeError:
            raise ProtocolError("invalidUTF8", "invalid UTF-8", offset) from None

    def document(self, depth):
        count_offset = self.index
        count = self._fixed(4, _U32.unpack_from)
        if count > (len(self.data) - self.index) // MIN_MEMBER_SIZE:
            raise ProtocolError("countTooLarge", "count %d cannot fit in the rest of the body" % count, count_offset)
        result = {}
        for _ in range(count):
            member_offset = self.index
            key_length = self._fixed(2, _U16.unpack_from)
            key = self._text(self._payload(key_length, member_offset), member_offset + 2)
            if key in result:
                raise ProtocolError("duplicateKey", "duplicate member %r" % key[:64], member_offset)
            result[key] = self.value(depth)
        return result

    def value(self, depth):
        tag_offset = self.index
        tag = self._fixed(1, _U8_UNPACK)
        if tag == TAG_FALSE:
            return False
        if tag == TAG_TRUE:
            return True
        if tag == TAG_INTEGER:
            return self._fixed(8, _I64.unpack_from)
        if tag == TAG_TIMESTAMP:
            milliseconds = self._fixed(8, _I64.unpack_from)
            try:
                return _EPOCH + datetime.timedelta(milliseconds=milliseconds)
            except OverflowError:
                # Python's datetime stops at years 1 and 9999; the protocol's int64 does not.
                raise ProtocolError("timestampRange", "timestamp %d outside datetime's range" % milliseconds,
                                    tag_offset) from None
        if tag == TAG_STRING or tag == TAG_BYTES:
            length_offset = self.index
            length = self._fixed(4, _U32.unpack_from)
            raw = self._payload(length, length_offset)
            return self._text(raw, length_offset + 4) if tag == TAG_STRING else raw
        if tag == TAG_LIST:
            if depth >= MAX_NESTING_DEPTH:
                raise ProtocolError("nestingTooDeep", "nesting deeper than %d" % MAX_NESTING_DEPTH, tag_offset)
            count_offset = self.index
            count = self._fixed(4, _U32.unpack_from)
            if count > (len(self.data) - self.index) // MIN_VALUE_SIZE:
                raise ProtocolError("countTooLarge", "count %d cannot fit in the rest of the body" % count,
                                    count_offset)
            return [self.value(depth + 1) for _ in range(count)]
        if tag == TAG_DOCUMENT:
            if depth >= MAX_NESTING_DEPTH:
                raise ProtocolError("nestingTooDeep", "nesting deeper than %d" % MAX_NESTING_DEPTH, tag_offset)
            return self.document(depth + 1)
        raise ProtocolError("unknownTag", "unknown value tag 0x%02x" % tag, tag_offset)


def _U8_UNPACK(data, offset):
    return (data[offset],)


# --------------------------------------------------------------------------------------------------------------------
# Frames (section 3) and the decoder contract (section 5)


class Frame:
    """One frame: header fields and the body bytes."""

    __slots__ = ("version", "kind", "operation", "request_id", "body")

    def __init__(self, version, kind, operation, request_id, body):
        self.version = version
        self.kind = kind
        self.operation = operation
        self.request_id = request_id
        self.body = body

    @property
    def operation_name(self):
        return OPERATION_NAMES.get(self.operation)

    def document(self):
        return decode_document(self.body)

    def encode(self):
        return _encode_frame_bytes(self.version, self.kind, self.operation, self.request_id, self.body)

    def __repr__(self):
        return "Frame(version=%d, kind=%d, operation=0x%04x, request_id=%d, body=<%d bytes>)" % (
            self.version, self.kind, self.operation, self.request_id, len(self.body))


def encode_frame(kind, operation, request_id, document, version=PROTOCOL_VERSION):
    """A whole frame (length prefix, header, body) for a document dict; ``operation`` is a name or a code."""
    code = _operation_code(operation)
    return _encode_frame_bytes(version, kind, code, request_id, encode_document(document))


def _encode_frame_bytes(version, kind, operation, request_id, body):
    length = HEADER_SIZE + len(body)
    if length > MAX_FRAME_LENGTH:
        raise ValueError("frame length %d exceeds %d" % (length, MAX_FRAME_LENGTH))
    return _PREFIX_AND_HEADER.pack(length, version, kind, operation, request_id) + body


def _operation_code(operation):
    if isinstance(operation, int):
        return operation
    code = _OPERATIONS_LOWER.get(operation.lower())
    if code is None:
        raise ValueError("unknown operation %r" % operation)
    return code


class FrameDecoder:
    """Turns a byte stream fed in chunks of any size into frames, as section 5 requires.

    ``frame_length()`` peeks at the length prefix; ``next_frame()`` returns a frame once all of it has arrived and
    None (consuming nothing) before. A length outside 8…262144 raises ``ProtocolError`` as soon as the four length
    bytes are there, before anything is buffered for the body, and keeps raising: the stream cannot be resynchronised.
    """

    def __init__(self):
        self._buffer = bytearray()

    def feed(self, data):
        self._buffer += data

    @property
    def buffered(self):
        return len(self._buffer)

    def frame_length(self):
        if len(self._buffer) < LENGTH_FIELD_SIZE:
            return None
        length = _U32.unpack_from(self._buffer, 0)[0]
        if length < MIN_FRAME_LENGTH:
            raise ProtocolError("frameTooShort", "frame length %d is below %d" % (length, MIN_FRAME_LENGTH))
        if length > MAX_FRAME_LENGTH:
            raise ProtocolError("frameTooLarge", "frame length %d exceeds %d" % (length, MAX_FRAME_LENGTH))
        return length

    def next_frame(self):
        length = self.frame_length()
        if length is None or len(self._buffer) < LENGTH_FIELD_SIZE + length:
            return None
        end = LENGTH_FIELD_SIZE + length
        version, kind, operation, request_id = _HEADER.unpack_from(self._buffer, LENGTH_FIELD_SIZE)
        body = bytes(self._buffer[LENGTH_FIELD_SIZE + HEADER_SIZE : end])
        del self._buffer[:end]
        return Frame(version, kind, operation, request_id, body)


# --------------------------------------------------------------------------------------------------------------------
# The client


class Client:
    """A connection to cofferd.

    ``socket_path`` defaults to ``$COFFER_SOCKET`` or ``/run/coffer/coffer.sock``. ``timeout`` (seconds) bounds
    each socket operation. With ``hello=True`` the client sends Hello first and keeps the response in
    ``server_hello``.
    """

    def __init__(self, socket_path=None, timeout=None, hello=False, client_name=CLIENT_NAME, sock=None):
        self.client_name = client_name
        if sock is None:
            path = socket_path or os.environ.get("COFFER_SOCKET") or DEFAULT_SOCKET
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(path)
            except BaseException:
                sock.close()
                raise
        self._sock = sock
        self._decoder = FrameDecoder()
        self._next_id = 1
        self._in_flight = {}  # request id -> operation code
        self._replies = {}  # request id -> Frame, received before anyone asked
        self.server_hello = self.hello() if hello else None

    # Connection

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        return self._sock is None

    # Pipelining

    def send(self, operation, params=None):
        """Sends a request and returns its request id; collect the reply with ``receive``."""
        code = _operation_code(operation)
        request_id = self._allocate_id()
        frame = encode_frame(KIND_REQUEST, code, request_id, params or {})
        self._send_bytes(frame)
        self._in_flight[request_id] = code
        return request_id

    def send_raw(self, frame_bytes, request_id):
        """Sends bytes as they are (tests and diagnostics) and expects a reply for ``request_id``."""
        self._send_bytes(frame_bytes)
        self._in_flight[request_id] = None
        return request_id

    def receive(self, request_id):
        """The reply to ``request_id`` as a dict; raises ``CofferError`` for an error reply. Replies to other
        requests that arrive first are kept for their own ``receive``."""
        if request_id not in self._in_flight and request_id not in self._replies:
            raise ValueError("request %d is not in flight" % request_id)
        while request_id not in self._replies:
            self._read_one()
        frame = self._replies.pop(request_id)
        self._in_flight.pop(request_id, None)
        document = frame.document()
        if frame.kind == KIND_ERROR:
            raise CofferError(document.get("__type", "UnknownError"), document.get("Message", ""))
        return document

    def call(self, operation, params=None):
        """Sends one request and waits for its reply."""
        return self.receive(self.send(operation, params))

    def call_many(self, calls):
        """Pipelines ``[(operation, params), ...]`` (at most ``PIPELINE_WINDOW`` in flight) and returns the results
        in order: each a response dict or the ``CofferError`` its request got."""
        calls = list(calls)
        ids = []
        results = [None] * len(calls)
        next_to_send = 0
        next_to_receive = 0
        while next_to_receive < len(calls):
            while next_to_send < len(calls) and next_to_send - next_to_receive < PIPELINE_WINDOW:
                operation, params = calls[next_to_send]
                ids.append(self.send(operation, params))
                next_to_send += 1
            try:
                results[next_to_receive] = self.receive(ids[next_to_receive])
            except CofferError as error:
                results[next_to_receive] = error
            next_to_receive += 1
        return results

    def _allocate_id(self):
        while True:
            request_id = self._next_id
            self._next_id = 1 if self._next_id >= 0xFFFFFFFF else self._next_id + 1
            if request_id not in self._in_flight and request_id not in self._replies:
                return request_id

    def _send_bytes(self, data):
        if self._sock is None:
            raise ConnectionError("the connection is closed")
        self._sock.sendall(data)

    def _read_one(self):
        while True:
            try:
                frame = self._decoder.next_frame()
            except ProtocolError:
                self.close()
                raise
            if frame is not None:
                break
            if self._sock is None:
                raise ConnectionError("the connection is closed")
            chunk = self._sock.recv(65536)
            if not chunk:
                self.close()
                raise ConnectionError("the daemon closed the connection")
            self._decoder.feed(chunk)
        if frame.kind not in (KIND_RESPONSE, KIND_ERROR) or frame.version != PROTOCOL_VERSION:
            self.close()
            raise ProtocolError("unexpectedFrame", "unexpected %r from the daemon" % frame)
        if frame.request_id == CONNECTION_ERROR_REQUEST_ID and frame.kind == KIND_ERROR:
            # Section 3.3: the daemon rejected the framing and closes.
            document = frame.document()
            self.close()
            raise CofferError(document.get("__type", "UnknownError"), document.get("Message", ""))
        if frame.request_id not in self._in_flight:
            self.close()
            raise ProtocolError("unexpectedFrame", "reply to request %d, which is not in flight" % frame.request_id)
        self._replies[frame.request_id] = frame

    # Operations

    def hello(self):
        """Hello (section 7.1): the protocol version and the daemon's name; also a health check."""
        return self.call("Hello", {"ProtocolVersions": [PROTOCOL_VERSION], "Client": self.client_name})

    def get_secret_value(self, secret_id, version_id=None, version_stage=None):
        params = {"SecretId": secret_id}
        _put(params, "VersionId", version_id)
        _put(params, "VersionStage", version_stage)
        return self.call("GetSecretValue", params)

    def create_secret(self, name, secret_string=None, secret_binary=None, description=None, tags=None,
                      kms_key_id=None, client_request_token=None):
        """CreateSecret. Like the AWS SDKs, fills ClientRequestToken with a fresh UUID when a value is given and
        no token is."""
        params = {"Name": name}
        if client_request_token is None and (secret_string is not None or secret_binary is not None):
            client_request_token = str(uuid.uuid4())
        _put(params, "ClientRequestToken", client_request_token)
        _put(params, "Description", description)
        _put(params, "KmsKeyId", kms_key_id)
        _put(params, "SecretBinary", secret_binary)
        _put(params, "SecretString", secret_string)
        if tags is not None:
            params["Tags"] = _tags(tags)
        return self.call("CreateSecret", params)

    def put_secret_value(self, secret_id, secret_string=None, secret_binary=None, version_stages=None,
                         client_request_token=None):
        """PutSecretValue, with a fresh UUID ClientRequestToken unless one is given."""
        params = {"SecretId": secret_id, "ClientRequestToken": client_request_token or str(uuid.uuid4())}
        _put(params, "SecretBinary", secret_binary)
        _put(params, "SecretString", secret_string)
        _put(params, "VersionStages", version_stages)
        return self.call("PutSecretValue", params)

    def describe_secret(self, secret_id):
        return self.call("DescribeSecret", {"SecretId": secret_id})

    def delete_secret(self, secret_id, recovery_window_in_days=None, force_delete_without_recovery=None):
        params = {"SecretId": secret_id}
        _put(params, "RecoveryWindowInDays", recovery_window_in_days)
        _put(params, "ForceDeleteWithoutRecovery", force_delete_without_recovery)
        return self.call("DeleteSecret", params)

    def list_secrets(self, filters=None, include_planned_deletion=None, sort_order=None, page_size=None):
        """Every entry of ListSecrets, following NextToken until the last page."""
        params = {}
        _put(params, "Filters", filters)
        _put(params, "IncludePlannedDeletion", include_planned_deletion)
        _put(params, "SortOrder", sort_order)
        _put(params, "MaxResults", page_size)
        entries = []
        while True:
            page = self.call("ListSecrets", params)
            entries += page.get("SecretList", [])
            if not page.get("NextToken"):
                return entries
            params["NextToken"] = page["NextToken"]


def _put(params, key, value):
    if value is not None:
        params[key] = value


def _tags(tags):
    if isinstance(tags, dict):
        return [{"Key": key, "Value": value} for key, value in tags.items()]
    return list(tags)


# --------------------------------------------------------------------------------------------------------------------
# JSON (section 9), as the AWS CLI reads and prints it


def from_json(value, key=None):
    """AWS-shaped request JSON (already parsed) as document values: SecretBinary from padded base64; numbers must
    be integers; null is rejected."""
    if value is None:
        raise ValueError("%s: null is not accepted" % key)
    if isinstance(value, bool) or isinstance(value, int) or isinstance(value, str):
        if key == "SecretBinary" and isinstance(value, str):
            if len(value) % 4:
                raise ValueError("Invalid base64 value for parameter SecretBinary")
            try:
                return base64.b64decode(value, validate=True)
            except ValueError:
                raise ValueError("Invalid base64 value for parameter SecretBinary") from None
        return value
    if isinstance(value, float):
        raise ValueError("%s: %r is not an integer" % (key, value))
    if isinstance(value, list):
        return [from_json(element) for element in value]
    if isinstance(value, dict):
        return {name: from_json(member, name) for name, member in value.items()}
    raise TypeError("%s: cannot map %s" % (key, type(value).__name__))


def to_json(value, epoch_seconds=False):
    """Response values as JSON-ready values: bytes as base64, timestamps as the AWS CLI v2 prints them
    (``2026-11-29T14:13:41.123000+00:00``) or, with ``epoch_seconds``, as seconds with a millisecond fraction."""
    if isinstance(value, dict):
        return {key: to_json(member, epoch_seconds) for key, member in value.items()}
    if isinstance(value, list):
        return [to_json(element, epoch_seconds) for element in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.datetime):
        milliseconds = _milliseconds(value)
        if epoch_seconds:
            whole, fraction = divmod(milliseconds, 1000)
            return whole if fraction == 0 else float("%d.%03d" % (whole, fraction))
        moment = _EPOCH + datetime.timedelta(milliseconds=milliseconds)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d000+00:00" % (milliseconds % 1000)
    return value


def _main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write("usage: coffer_client.py <Operation> ['<request JSON>']   (socket: $COFFER_SOCKET)\n")
        return 2
    params = from_json(json.loads(argv[2])) if len(argv) > 2 else {}
    try:
        with Client() as client:
            response = client.call(argv[1], params)
    except CofferError as error:
        sys.stderr.write("An error occurred (%s): %s\n" % (error.type, error.message))
        return 254
    print(json.dumps(to_json(response), indent=4, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
