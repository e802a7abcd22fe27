// Fine: two layers down.
#include "low/low.h"
#include "mid/mid.h"
#include "flashjit/types.h"
#include "t.cuh"
