# check-valgrind (std build only; valgrind and ASan do not mix): one
# shipping pass of `cis490-shipper once`, its children followed, against
# a cis490-receiver that also runs under valgrind memcheck; 0 errors and
# nothing definitely lost in every process.
DEB_PKGS += valgrind
SUITES += $(if $(SANITIZE),,check-valgrind)
.PHONY: check-valgrind

check-valgrind: $(SHIPPER) $(RECEIVER)
	SHIPPER=$(abspath $(SHIPPER)) RECEIVER=$(abspath $(RECEIVER)) \
	    sh regress/integration/run.sh regress/valgrind/test_valgrind.sh
