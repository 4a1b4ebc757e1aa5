"""gRPC layer: the only server code that knows protobuf. Convert, call the service, map errors."""
