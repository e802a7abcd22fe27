// libflashjit.so is built from the flashjit_core archive (linked whole); a shared library target
// needs at least one source of its own, and this is it.
#include "flashjit/flashjit.h"
