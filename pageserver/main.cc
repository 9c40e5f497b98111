// zenith-pageserver: the page server as shipped (server_main.h).
#include "pageserver/server_main.h"

int main(int argc, char** argv) { return zenith::pageserver::RunPageServer(argc, argv); }
