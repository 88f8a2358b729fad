"""Integration tests against a running cofferd: skipped unless $COFFER_SOCKET names its client socket.

    COFFER_SOCKET=./.coffer/run/coffer.sock python3 -m unittest discover -s clients/python -p 'test_integration.py'

The caller must be allowed the secretsmanager actions used here on secrets named ``coffer-python-it/*`` (every run
uses a fresh prefix under it and force-deletes what it created).
"""

import datetime
import os
import socket
import struct
import unittest
import uuid

import coffer_client as cc

SOCKET = os.environ.get("COFFER_SOCKET")


def reachable(path):
    if not path:
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(2)
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


@unittest.skipUnless(reachable(SOCKET), "set COFFER_SOCKET to a running cofferd's client socket")
class AgainstTheDaemon(unittest.TestCase):
    def setUp(self):
        self.prefix = "coffer-python-it/%s" % uuid.uuid4().hex[:12]
        self.client = cc.Client(SOCKET, timeout=30)
        self.created = []

    def tearDown(self):
        for name in self.created:
            try:
                self.client.delete_secret(name, force_delete_without_recovery=True)
            except (cc.CofferError, OSError):
                pass
        self.client.close()

    def create(self, suffix, **kwargs):
        name = "%s/%s" % (self.prefix, suffix)
        self.created.append(name)
        return name, self.client.create_secret(name, **kwargs)

    def assertCofferError(self, error_type, function, *args, **kwargs):
        with self.assertRaises(cc.CofferError) as caught:
            function(*args, **kwargs)
        self.assertEqual(caught.exception.type, error_type, caught.exception.message)
        return caught.exception

    # Handshake

    def test_hello(self):
        hello = self.client.hello()
        self.assertEqual(hello["ProtocolVersion"], 1)
        self.assertTrue(hello["Server"].startswith("cofferd"), hello)

    # Secrets Manager, end to end

    def test_string_secret_lifecycle(self):
        name, created = self.create("db", secret_string="first", description="integration test",
                                    tags={"env": "test"})
        self.assertEqual(created["Name"], name)
        self.assertIn(":secret:%s-" % name, created["ARN"])
        first_version = created["VersionId"]

        value = self.client.get_secret_value(name)
        self.assertEqual(value["SecretString"], "first")
        self.assertNotIn("SecretBinary", value)
        self.assertEqual(value["VersionId"], first_version)
        self.assertEqual(value["VersionStages"], ["AWSCURRENT"])
        self.assertIsInstance(value["CreatedDate"], datetime.datetime)
        self.assertEqual(self.client.get_secret_value(created["ARN"])["SecretString"], "first")

        put = self.client.put_secret_value(name, secret_string="second ✓")
        self.assertEqual(put["VersionStages"], ["AWSCURRENT"])
        self.assertEqual(self.client.get_secret_value(name)["SecretString"], "second ✓")
        previous = self.client.get_secret_value(name, version_stage="AWSPREVIOUS")
        self.assertEqual((previous["SecretString"], previous["VersionId"]), ("first", first_version))

        described = self.client.describe_secret(name)
        self.assertEqual(described["Description"], "integration test")
        self.assertEqual(described["Tags"], [{"Key": "env", "Value": "test"}])
        self.assertEqual(described["VersionIdsToStages"],
                         {first_version: ["AWSPREVIOUS"], put["VersionId"]: ["AWSCURRENT"]})
        self.assertNotIn("SecretString", described)

        listed = self.client.list_secrets(filters=[{"Key": "name", "Values": [self.prefix + "/"]}])
        self.assertEqual([entry["Name"] for entry in listed], [name])
        self.assertNotIn("SecretString", listed[0])

        deleted = self.client.delete_secret(name, force_delete_without_recovery=True)
        self.assertIsInstance(deleted["DeletionDate"], datetime.datetime)
        self.assertCofferError("ResourceNotFoundException", self.client.get_secret_value, name)

    def test_binary_secret(self):
        value = bytes(range(256)) * 4
        name, created = self.create("key", secret_binary=value)
        got = self.client.get_secret_value(name)
        self.assertEqual(got["SecretBinary"], value)
        self.assertNotIn("SecretString", got)
        self.assertEqual(got["VersionId"], created["VersionId"])

    def test_schedule_delete_and_restore(self):
        name, _ = self.create("restore", secret_string="v")
        scheduled = self.client.delete_secret(name, recovery_window_in_days=7)
        self.assertGreater(scheduled["DeletionDate"], datetime.datetime.now(datetime.timezone.utc))
        self.assertCofferError("InvalidRequestException", self.client.get_secret_value, name)
        self.assertIn("DeletedDate", self.client.describe_secret(name))
        self.client.call("RestoreSecret", {"SecretId": name})
        self.assertEqual(self.client.get_secret_value(name)["SecretString"], "v")

    # Errors

    def test_service_errors(self):
        name, _ = self.create("exists", secret_string="v")
        self.assertCofferError("ResourceNotFoundException", self.client.get_secret_value, self.prefix + "/missing")
        self.assertCofferError("ResourceExistsException", self.client.create_secret, name, secret_string="again")
        self.assertCofferError("InvalidParameterException", self.client.create_secret, self.prefix + "/both",
                               secret_string="s", secret_binary=b"b")
        self.assertCofferError("ValidationException", self.client.get_secret_value, "not a valid name")
        self.assertCofferError("ValidationException", self.client.call, "GetSecretValue", {})
        error = self.assertCofferError("SerializationException", self.client.call, "GetSecretValue", {"SecretId": 1})
        self.assertIn("SecretId", error.message)
        self.assertEqual(self.client.hello()["ProtocolVersion"], 1)  # still usable

    def test_unknown_operation_keeps_the_connection(self):
        request_id = self.client.send_raw(cc.encode_frame(cc.KIND_REQUEST, 0x01FF, 4242, {}), 4242)
        self.assertCofferError("UnknownOperationException", self.client.receive, request_id)
        self.assertEqual(self.client.hello()["ProtocolVersion"], 1)

    def test_malformed_document_keeps_the_connection(self):
        body = b"\x00\x00\x00\x01\x00\x08SecretId\x04\xff\xff\xff\xff"  # string length past the end
        frame = struct.pack(">IBBHI", 8 + len(body), 1, cc.KIND_REQUEST, cc.OPERATIONS["GetSecretValue"], 4243) + body
        request_id = self.client.send_raw(frame, 4243)
        self.assertCofferError("SerializationException", self.client.receive, request_id)
        self.assertEqual(self.client.hello()["ProtocolVersion"], 1)

    def test_unsupported_version_gets_a_reply_then_close(self):
        with cc.Client(SOCKET, timeout=30) as client:
            frame = cc.encode_frame(cc.KIND_REQUEST, "Hello", 4244, {}, version=2)
            request_id = client.send_raw(frame, 4244)
            self.assertCofferError("UnsupportedProtocolVersionException", client.receive, request_id)
            with self.assertRaises((ConnectionError, OSError)):
                client.hello()

    def test_bad_frame_length_gets_a_connection_error_then_close(self):
        with cc.Client(SOCKET, timeout=30) as client:
            client.send_raw(struct.pack(">I", 3), 4245)
            self.assertCofferError("SerializationException", client.receive, 4245)
            self.assertTrue(client.closed)

    # Pipelining

    def test_pipelined_requests_are_answered_by_request_id(self):
        names = []
        for i in range(5):
            name, _ = self.create("p%d" % i, secret_string="value-%d" % i)
            names.append(name)
        ids = [self.client.send("GetSecretValue", {"SecretId": names[i % 5]}) for i in range(40)]
        for i in reversed(range(40)):
            self.assertEqual(self.client.receive(ids[i])["SecretString"], "value-%d" % (i % 5))

        calls = [("GetSecretValue", {"SecretId": names[i % 5]}) for i in range(200)]
        calls.append(("GetSecretValue", {"SecretId": self.prefix + "/missing"}))
        results = self.client.call_many(calls)
        self.assertEqual([r["SecretString"] for r in results[:200]], ["value-%d" % (i % 5) for i in range(200)])
        self.assertEqual(results[200].type, "ResourceNotFoundException")


if __name__ == "__main__":
    unittest.main()
