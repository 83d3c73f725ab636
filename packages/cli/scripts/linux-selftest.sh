#!/usr/bin/env bash
# Build Linux's iommufd selftest (tools/testing/selftests/iommu/iommufd.c) from
# a directory holding its files, and run it under `iommu-sim exec`.
#
#   packages/cli/scripts/linux-selftest.sh DIR [HARNESS ARGS...]
#   packages/cli/scripts/linux-selftest.sh /tmp/linux-selftest -f iommufd_ioas
#
# DIR must hold, fetched from one Linux tree (this script fetches nothing):
#   iommufd.c iommufd_utils.h          tools/testing/selftests/iommu/
#   kselftest_harness.h kselftest.h    tools/testing/selftests/
#   iommufd_test.h                     drivers/iommu/iommufd/
#   iommufd.h                          include/uapi/linux/
#   vfio.h (optional)                  include/uapi/linux/ (else the system's)
#
# The files are used as they are: the script lays them out as a kernel tree
# in a temporary directory (so the selftest's relative includes resolve),
# and only adds, outside them, what an older build host lacks:
#   - ksft_test_result_code() when DIR's kselftest.h predates it (the
#     harness needs it), via -include of a generated header;
#   - <sys/capability.h> when libcap's development header is missing: the
#     four libcap calls the test uses are declared and libcap.so.2 linked.
# HARNESS ARGS go to the test binary: -f FIXTURE, -v VARIANT, -t TEST,
# -l (list); see kselftest_harness.h. Environment: CC (default cc).
# Exit status: the selftest's (0 = every selected test passed).
set -euo pipefail

die() { echo "linux-selftest: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: $0 DIR [HARNESS ARGS...]"
src=$(cd "$1" && pwd) || die "$1: no such directory"
shift
for f in iommufd.c iommufd_utils.h kselftest_harness.h kselftest.h iommufd_test.h iommufd.h; do
	[ -f "$src/$f" ] || die "$src/$f: missing (see the header of this script)"
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
tree=$(mktemp -d "${TMPDIR:-/tmp}/iommu-sim-selftest-XXXXXX")
trap 'rm -rf "$tree"' EXIT

# The kernel tree layout the selftest's includes expect.
mkdir -p "$tree/tools/testing/selftests/iommu" "$tree/drivers/iommu/iommufd" \
	"$tree/include/uapi/linux" "$tree/compat/sys"
ln -s "$src/iommufd.c" "$src/iommufd_utils.h" "$tree/tools/testing/selftests/iommu/"
ln -s "$src/kselftest_harness.h" "$src/kselftest.h" "$tree/tools/testing/selftests/"
ln -s "$src/iommufd_test.h" "$tree/drivers/iommu/iommufd/"
ln -s "$src/iommufd.h" "$tree/include/uapi/linux/"
[ -f "$src/vfio.h" ] && ln -s "$src/vfio.h" "$tree/include/uapi/linux/"

# ksft_test_result_code() (Linux 6.9+), for a kselftest.h that predates it.
compat="$tree/compat/ksft-compat.h"
{
	echo '#include "'"$tree"'/tools/testing/selftests/kselftest.h"'
	if ! grep -q ksft_test_result_code "$src/kselftest.h"; then
		cat <<'EOF'
static inline __printf(3, 4) void ksft_test_result_code(int exit_code,
	const char *test_name, const char *msg, ...)
{
	const char *tap = "ok", *directive = "";
	va_list args;

	switch (exit_code) {
	case KSFT_PASS: ksft_cnt.ksft_pass++; break;
	case KSFT_XFAIL: ksft_cnt.ksft_xfail++; directive = " # XFAIL "; break;
	case KSFT_XPASS: ksft_cnt.ksft_xpass++; directive = " # XPASS "; break;
	case KSFT_SKIP: ksft_cnt.ksft_xskip++; directive = " # SKIP "; break;
	default: ksft_cnt.ksft_fail++; tap = "not ok"; break;
	}
	if (!directive[0] && msg)
		directive = " #  ";
	printf("%s %u %s%s", tap, ksft_test_num(), test_name, directive);
	if (msg) {
		va_start(args, msg);
		vprintf(msg, args);
		va_end(args);
	}
	printf("\n");
}
EOF
	fi
} >"$compat"

libs=()
if ! echo '#include <sys/capability.h>' | "${CC:-cc}" -E -x c - >/dev/null 2>&1; then
	libcap=$(ldconfig -p 2>/dev/null | awk '/libcap\.so\.2 /{print $NF; exit}')
	[ -n "$libcap" ] || die "neither libcap's <sys/capability.h> nor libcap.so.2 is installed"
	cat >"$tree/compat/sys/capability.h" <<'EOF'
/* The libcap calls iommufd.c makes (libcap's <sys/capability.h> is not installed). */
#include <linux/capability.h>
typedef struct _cap_struct *cap_t;
typedef int cap_value_t;
typedef enum { CAP_EFFECTIVE = 0, CAP_PERMITTED = 1, CAP_INHERITABLE = 2 } cap_flag_t;
typedef enum { CAP_CLEAR = 0, CAP_SET = 1 } cap_flag_value_t;
cap_t cap_get_proc(void);
int cap_set_flag(cap_t, cap_flag_t, int, const cap_value_t *, cap_flag_value_t);
int cap_set_proc(cap_t);
int cap_free(void *);
EOF
	libs=("$libcap")
else
	libs=(-lcap)
fi

exe="$tree/iommufd"
"${CC:-cc}" -O1 -w -D_GNU_SOURCE -pthread \
	-I"$tree/include/uapi" -I"$tree/compat" -include "$compat" \
	-o "$exe" "$tree/tools/testing/selftests/iommu/iommufd.c" "${libs[@]}"

# Fourteen tests (the hugepage variants, access_domain_destory, huge_map)
# mmap(MAP_HUGETLB) their buffers and fail, as on any kernel, without free
# hugetlb pages; say so up front rather than leave them to look like the model's.
free_huge=$(awk '/^HugePages_Free:/{print $2}' /proc/meminfo 2>/dev/null)
if [ "${free_huge:-0}" -lt 8 ]; then
	echo "linux-selftest: only ${free_huge:-0} free hugetlb pages: the MAP_HUGETLB tests will fail" \
		"(as root: echo 8 > /proc/sys/vm/nr_hugepages)" >&2
fi

cd "$repo"
set +e
node_modules/.bin/tsx packages/cli/src/bin.ts exec -- "$exe" "$@"
status=$?
exit $status
