// Symbol visibility for the shared library: everything is hidden unless marked FLASHJIT_API.
#pragma once

#if defined(FLASHJIT_BUILDING_LIBRARY)
#define FLASHJIT_API __attribute__((visibility("default")))
#else
#define FLASHJIT_API
#endif
