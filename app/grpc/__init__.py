"""The Open Inference Protocol over gRPC (Triton's `inference.GRPCInferenceService`)."""
