"""Study and trial lifecycle: the server's logic, independent of gRPC."""
