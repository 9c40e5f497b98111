// zenith: the user's command (docs/design.md §1).
#include "cli/command_line.h"

int main(int argc, char** argv) { return zenith::cli::Main(argc, argv); }
