// Fine: mid includes its own private header and the layer below.
#include "mid/secret.h"
#include "low/low.h"
