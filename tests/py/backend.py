"""A gRPC backend for the xDS end-to-end test: answers /echo.Echo/Who with its own name.

Usage: backend.py NAME PORT   (prints "ready" once serving)
Uses grpcio's generic handlers, so no generated code is needed.
"""
import sys
from concurrent import futures

import grpc


def main():
    name, port = sys.argv[1], int(sys.argv[2])

    def who(request, context):
        return name.encode()

    handler = grpc.method_handlers_generic_handler(
        "echo.Echo",
        {"Who": grpc.unary_unary_rpc_method_handler(who)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
