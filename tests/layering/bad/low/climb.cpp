// Breaks the rule: climbs out of the include roots.
#include "../high/high.h"
