"""A gRPC backend for the xDS end-to-end test: answers /echo.Echo/Who with its own name.

Usage: backend.py NAME PORT [xds]   (prints "ready" once started)
With `xds`, it is a gRPC xDS server: it asks the control plane in GRPC_XDS_BOOTSTRAP_CONFIG for
its listener (the bootstrap's server_listener_resource_name_template) and serves only once it
has one; until then connections are refused.
Uses grpcio's generic handlers, so no generated code is needed.
"""
import sys
from concurrent import futures

import grpc


def main():
    name, port = sys.argv[1], int(sys.argv[2])
    xds = len(sys.argv) > 3 and sys.argv[3] == "xds"

    def who(request, context):
        return name.encode()

    handler = grpc.method_handlers_generic_handler(
        "echo.Echo",
        {"Who": grpc.unary_unary_rpc_method_handler(who)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), xds=xds)
    server.add_generic_rpc_handlers((handler,))
    if xds:
        creds = grpc.xds_server_credentials(grpc.insecure_server_credentials())
        server.add_secure_port(f"127.0.0.1:{port}", creds)
    else:
        server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
