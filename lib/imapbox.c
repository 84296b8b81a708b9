#include "config.h"
#include "imapbox.h"
