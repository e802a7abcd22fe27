// Breaks the rule: a directory that belongs to no layer.
#include "nowhere/x.h"
