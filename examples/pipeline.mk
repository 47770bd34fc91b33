# A cron-style pipeline: dedupe -> score -> select -> report, on the shipped demo by default.
#
#   make -f examples/pipeline.mk                      # runs what is not done yet
#   make -f examples/pipeline.mk POOL=/data/2026-11-27 TARGET=/data/target.jsonl WORK=/data/out/2026-11-27
#
# Each step writes its outputs atomically and its manifest.json last, so make skips finished steps, and
# sievekit itself does nothing when a step is re-run with the same options (it refuses to mix a changed
# run with old outputs unless --overwrite). A step killed half-way resumes: its finished shards stay.
SIEVEKIT ?= sievekit
POOL ?= sievekit/demo/pool
TARGET ?= sievekit/demo/target.jsonl
WORK ?= pipeline-out
K ?= 200

all: $(WORK)/report.html

$(WORK)/deduped/manifest.json:
	$(SIEVEKIT) dedupe $(POOL) -o $(WORK)/deduped --work-dir $(WORK)/dedupe-work -q

# Score once with two methods; select (below) re-reads the sidecars, so budgets can change without re-scoring.
$(WORK)/scores/manifest.json: $(WORK)/deduped/manifest.json
	$(SIEVEKIT) score $(WORK)/deduped --method zstd-ml --method dsir --dsir.min-length 20 --target $(TARGET) \
		-o $(WORK)/scores -q

$(WORK)/selected/manifest.json: $(WORK)/scores/manifest.json
	$(SIEVEKIT) select $(WORK)/deduped --scores $(WORK)/scores --method zstd-ml --top-k $(K) -o $(WORK)/selected -q

$(WORK)/report.html: $(WORK)/selected/manifest.json
	$(SIEVEKIT) report $(WORK)/selected --by domain --target $(TARGET) --html $@ -q

clean:
	rm -rf $(WORK)

.PHONY: all clean
