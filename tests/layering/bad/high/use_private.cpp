// Breaks the rule: the private header of another layer.
#include "mid/secret.h"
