#include "config.h"
#include "imapsearch.h"
