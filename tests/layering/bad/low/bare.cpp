// Breaks the rule: a bare name that is not a template.
#include "thing.h"
