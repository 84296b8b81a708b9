#include "config.h"
#include "imapd.h"
