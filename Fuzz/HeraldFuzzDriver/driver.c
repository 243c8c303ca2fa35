// Only the header matters (LLVMFuzzerRunDriver's declaration); a C target needs one source file.
#include "HeraldFuzzDriver.h"
