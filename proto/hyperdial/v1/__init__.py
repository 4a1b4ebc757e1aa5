"""Generated gRPC and protobuf code for hyperdial.v1; run `make proto` to regenerate."""
