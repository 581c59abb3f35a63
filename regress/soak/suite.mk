# make soak: the bounded soak (regress/soak/soak.sh), not part of make
# check.  SOAK_MINUTES (default 10) bounds it; its figures go to
# regress/SOAK.md.
.PHONY: soak

soak: $(SHIPPER) $(RECEIVER)
	SHIPPER=$(abspath $(SHIPPER)) RECEIVER=$(abspath $(RECEIVER)) \
	    SOAK_MINUTES=$(or $(SOAK_MINUTES),10) \
	    bash regress/soak/soak.sh
