"""A Python service calling Tessera over gRPC with stubs generated from proto/ by grpcio-tools.

Client credentials, a token exchange, and the OAuthError detail of a refused call. Run from the repository root:

    python -m grpc_tools.protoc -Iproto --python_out=examples/python/gen --grpc_python_out=examples/python/gen \
        proto/tessera/exchange/v1/token_exchange_service.proto
    TESSERA_GRPC=127.0.0.1:8080 python examples/python/client.py
"""

import base64
import json
import os
import sys
from urllib.parse import quote

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

import grpc  # noqa: E402
from grpc_status import rpc_status  # noqa: E402
from tessera.exchange.v1 import token_exchange_service_pb2 as pb  # noqa: E402
from tessera.exchange.v1 import token_exchange_service_pb2_grpc as pb_grpc  # noqa: E402

ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"


def basic(client_id: str, secret: str) -> list[tuple[str, str]]:
    """client_secret_basic as gRPC metadata (RFC 6749 section 2.3.1: form-urlencoded id and secret)."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return [("authorization", "Basic " + base64.b64encode(pair).decode())]


def oauth_error(error: grpc.RpcError) -> dict[str, str]:
    """The gRPC code and the tessera.exchange.v1.OAuthError detail of a refused call."""
    refusal = {"code": error.code().name}
    status = rpc_status.from_call(error)
    for detail in status.details if status else []:
        if detail.Is(pb.OAuthError.DESCRIPTOR):
            oauth = pb.OAuthError()
            detail.Unpack(oauth)
            refusal.update(error=oauth.error, error_description=oauth.error_description)
    return refusal


def main() -> None:
    with grpc.insecure_channel(os.environ.get("TESSERA_GRPC", "127.0.0.1:8080")) as channel:
        stub = pb_grpc.TokenExchangeServiceStub(channel)
        gateway = basic("gateway", "gateway-secret")
        own = stub.ClientCredentials(pb.ClientCredentialsRequest(realm="demo", scope="orders.read"), metadata=gateway, timeout=10)
        exchanged = stub.ExchangeToken(
            pb.ExchangeTokenRequest(realm="demo", subject_token=own.access_token, subject_token_type=ACCESS_TOKEN, audience=["orders-api"]),
            metadata=gateway,
            timeout=10,
        )
        try:
            stub.ClientCredentials(pb.ClientCredentialsRequest(realm="demo"), metadata=basic("gateway", "wrong-secret"), timeout=10)
            refusal = {}
        except grpc.RpcError as error:
            refusal = oauth_error(error)
        print(json.dumps({
            "issued_token_type": exchanged.issued_token_type,
            "scope": exchanged.scope,
            "expires_in": exchanged.expires_in,
            "refusal": refusal,
        }))


if __name__ == "__main__":
    main()
