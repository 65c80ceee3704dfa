"""Open Inference Protocol (KServe V2) REST, with the binary tensor data extension tritonclient uses."""
