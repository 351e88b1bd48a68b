// Calls through the function pointers mod_anyhost gave Go at init: Go
// cannot call a C function pointer itself.
#include "anyhost_bridge.h"

long ah_read_body(const ah_host *h, void *r, char *buf, long len) { return h->read_body(r, buf, len); }
int ah_send(const ah_host *h, void *r, const char *rec, long len, int flush) { return h->send(r, rec, len, flush); }
void ah_log(const ah_host *h, void *r, int level, const char *msg, long len) { h->log(r, level, msg, len); }
long ah_env(const ah_host *h, void *r, char **out) { return h->env(r, out); }
