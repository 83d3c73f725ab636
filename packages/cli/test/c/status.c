/* Exits with the status (or raises the signal) its argument names. */
#include "check.h"
#include <signal.h>

int main(int argc, char **argv)
{
	int fd = open("/dev/iommu", O_RDWR);
	if (fd < 0) return 100;
	if (argc > 1 && strcmp(argv[1], "kill") == 0) raise(SIGKILL);
	return argc > 1 ? atoi(argv[1]) : 0;
}
