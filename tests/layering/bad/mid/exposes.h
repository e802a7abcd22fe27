// Breaks the rule: a public header hands a private one to every layer above.
#pragma once
#include "mid/secret.h"
