#include <stddef.h>
#include <stdint.h>

// libFuzzer's driver, for an entry point of our own: SwiftPM renames an executable's
// `main` in debug builds (`<Target>_main`), so libFuzzer's `main` is not the one linked.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
