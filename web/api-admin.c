/* relaydesk — web: the administrators' endpoints (filled in below). */
#include "web-private.h"

const RdRoute rd_web_admin_routes[] = {
  { NULL, NULL, 0, NULL }
};
