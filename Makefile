# Procscope: the two commands a newcomer needs are `make run` and `make test`.
# Both create .venv themselves and install (as root) or name (otherwise) the
# Debian/Ubuntu packages they need.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: run test lint unit vm-test bench bench-smoke venv sysdeps-run sysdeps-test \
        sysdeps-vm module install-desktop uninstall-desktop screenshot clean help

help:
	@echo "make run          start the app on the best available source"
	@echo "make test         lint, unit, integration and Qt tests, then the VM tests"
	@echo "make vm-test      build the module and test it on Debian kernels under qemu"
	@echo "make bench        run the benchmarks and write docs/benchmarks.md"
	@echo "make bench-smoke  every benchmark at tiny sizes"
	@echo "make module       build kernel_module/ for the running kernel (KDIR= to choose)"
	@echo "make install-desktop  launcher, icon and metainfo for this user (PREFIX= for packagers)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
	  echo "python3-venv is missing: apt-get install python3-venv"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	@touch $@

venv: $(STAMP)

sysdeps-run:
	@packaging/sysdeps.sh run

sysdeps-test:
	@packaging/sysdeps.sh test

sysdeps-vm:
	@packaging/sysdeps.sh vm

run: sysdeps-run $(STAMP)
	@if [ -z "$$DISPLAY" ] && [ -z "$$WAYLAND_DISPLAY" ] && [ "$$QT_QPA_PLATFORM" = offscreen ]; then \
	  echo "No display found: the window opens offscreen. Set DISPLAY or WAYLAND_DISPLAY to see it."; fi
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then unset QT_QPA_PLATFORM; fi; \
	  exec $(VENV)/bin/procscope $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check app tests bench

unit: sysdeps-test $(STAMP)
	$(PY) -m pytest -q

test: sysdeps-test $(STAMP) lint
	$(PY) -m pytest -q
	@if [ "$$CI" = true ] || packaging/sysdeps.sh have-vm; then \
	  $(MAKE) vm-test; \
	else \
	  echo "vm-test skipped: qemu is not installed (run 'make sysdeps-vm' as root, or see README)"; \
	fi

vm-test: sysdeps-vm $(STAMP)
	$(MAKE) -C kernel_module style
	$(PY) tests/vm/run.py

module:
	$(MAKE) -C kernel_module

# bench needs the test tools (htop, tmux, gcc for bench/spawner.c) and the VM tools;
# bench-smoke runs its tiny VM part only when qemu is already installed.
bench: sysdeps-test sysdeps-vm $(STAMP)
	$(PY) bench/run.py --out docs/benchmarks.md

bench-smoke: sysdeps-test $(STAMP)
	$(PY) bench/run.py --smoke

screenshot: sysdeps-test $(STAMP)
	PROCSCOPE_SCREENSHOT=$(CURDIR)/docs/screenshot.png $(PY) -m pytest -q tests/qt/test_screenshot.py

PREFIX ?= $(HOME)/.local
APPID  := io.github.procscope.Procscope
install-desktop:
	install -Dm644 packaging/$(APPID).desktop $(DESTDIR)$(PREFIX)/share/applications/$(APPID).desktop
	install -Dm644 resources/icons/$(APPID).svg $(DESTDIR)$(PREFIX)/share/icons/hicolor/scalable/apps/$(APPID).svg
	install -Dm644 packaging/$(APPID).metainfo.xml $(DESTDIR)$(PREFIX)/share/metainfo/$(APPID).metainfo.xml
	-command -v update-desktop-database >/dev/null && update-desktop-database $(DESTDIR)$(PREFIX)/share/applications

uninstall-desktop:
	rm -f $(DESTDIR)$(PREFIX)/share/applications/$(APPID).desktop \
	      $(DESTDIR)$(PREFIX)/share/icons/hicolor/scalable/apps/$(APPID).svg \
	      $(DESTDIR)$(PREFIX)/share/metainfo/$(APPID).metainfo.xml

clean:
	rm -rf $(VENV) build *.egg-info app/*.egg-info .pytest_cache .ruff_cache
	-$(MAKE) -C kernel_module clean
