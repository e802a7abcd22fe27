// FlashJIT: FlashAttention kernels generated, compiled and tuned for the GPU at hand.
#pragma once

#include "flashjit/numeric.h"
#include "flashjit/runtime.h"
#include "flashjit/status.h"
#include "flashjit/types.h"

#define FLASHJIT_VERSION_MAJOR 0
#define FLASHJIT_VERSION_MINOR 2
#define FLASHJIT_VERSION_PATCH 0
#define FLASHJIT_VERSION_STRING "0.2.0"
