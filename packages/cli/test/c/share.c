/*
 * Sharing an open file: dup, dup2, dup3, fcntl(F_DUPFD) and fork give new
 * fds on the same iommufd context; a second open is a new context; the
 * context lives until its last fd in any process closes. The context's
 * RLIMIT_MODE (IOMMU_OPTION) tells contexts apart.
 */
#include "check.h"
#include <sys/wait.h>

int main(void)
{
	int fd = open("/dev/iommu", O_RDWR);
	EXPECT_EQ(0, set_rlimit_mode(fd, 1));

	int a = dup(fd);
	int b = fcntl(fd, F_DUPFD, 40);
	int c = fcntl(fd, F_DUPFD_CLOEXEC, 50);
	EXPECT_EQ(40, b);
	EXPECT_EQ(50, c);
	EXPECT_EQ(20, dup2(fd, 20));
	EXPECT_EQ(21, dup3(fd, 21, O_CLOEXEC));
	EXPECT_EQ(1, rlimit_mode(a));
	EXPECT_EQ(1, rlimit_mode(b));
	EXPECT_EQ(1, rlimit_mode(c));
	EXPECT_EQ(1, rlimit_mode(20));
	EXPECT_EQ(1, rlimit_mode(21));

	/* A second open is a fresh context. */
	int other = open("/dev/iommu", O_RDWR);
	EXPECT_EQ(0, rlimit_mode(other));

	/* dup2 over a served fd closes that fd's file reference, not the context it points to. */
	EXPECT_EQ(a, dup2(other, a));
	EXPECT_EQ(0, rlimit_mode(a));
	EXPECT_EQ(b, dup2(fd, b)); /* same file: nothing changes */
	EXPECT_EQ(1, rlimit_mode(b));

	/* Closing the first fd leaves the others working. */
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(1, rlimit_mode(b));

	/* fork: the child shares the context; the parent closes all its fds
	 * before the child uses it, and the context survives in the child. */
	int go[2], done[2];
	EXPECT_EQ(0, pipe(go));
	EXPECT_EQ(0, pipe(done));
	pid_t pid = fork();
	if (pid == 0) {
		char x;
		if (read(go[0], &x, 1) != 1) _exit(10);
		if (rlimit_mode(b) != 1) _exit(11);
		if (set_rlimit_mode(b, 0) != 0) _exit(12);
		if (rlimit_mode(c) != 0) _exit(13);
		_exit(0);
	}
	EXPECT_EQ(0, close(b));
	EXPECT_EQ(0, close(c));
	EXPECT_EQ(0, close(20));
	EXPECT_EQ(0, close(21));
	EXPECT_EQ(1, write(go[1], "x", 1));
	int status = -1;
	EXPECT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(1, WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	/* A child changes a context the parent still holds. */
	int d = open("/dev/iommu", O_RDWR);
	pid = fork();
	if (pid == 0) _exit(set_rlimit_mode(d, 1) == 0 ? 0 : 1);
	EXPECT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1, rlimit_mode(d));
	DONE();
}
