#include "config.h"
#include "mime.h"
