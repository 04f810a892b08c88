// Code generated from nsexec.Finish by TestFinishStepsHeader -update; DO NOT EDIT.
// The constructor's finishing steps in order; see nsexec/finish.go for each one's meaning.
#define MYRUN_FINISH_STEPS(X) \
	X(console) \
	X(env) \
	X(chdir) \
	X(lookup) \
	X(close_fds) \
	X(rlimits) \
	X(bounding) \
	X(seccomp_early) \
	X(user) \
	X(caps) \
	X(umask) \
	X(nnp) \
	X(seccomp_late) \
	X(execve)
