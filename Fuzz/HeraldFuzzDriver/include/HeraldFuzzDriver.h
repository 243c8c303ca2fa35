#ifndef HERALD_FUZZ_DRIVER_H
#define HERALD_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry point for programs with their own main (compiler-rt's FuzzerInterface.h); provided by
/// the runtime that -sanitize=fuzzer links. HeraldFuzz's main picks a target, then hands over here.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
