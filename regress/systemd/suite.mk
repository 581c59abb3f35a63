# check-systemd: the daemons under a real systemd, booted as PID 1 in a
# container (regress/systemd/run.sh).  Only in the std build: it installs
# that build into the container, and runs once per `make check`; called
# directly with SANITIZE=1 it still installs and tests the std build.
SUITES	+= $(if $(SANITIZE),,check-systemd)
.PHONY	+= check-systemd
DEB_PKGS += debootstrap debian-archive-keyring systemd-container

# No $(MAKE) in the recipe: make runs such a line even under -n, and
# this one boots a container.
check-systemd:
	@bash regress/systemd/run.sh
