import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandArgv, fillPlaceholders, splitCommand } from '../../src/master/service-command.ts';

describe('splitCommand', () => {
  it('splits on blanks', () => {
    assert.deepEqual(splitCommand('gunicorn mysite.wsgi  --bind unix:{socket}\t--workers 2'), ['gunicorn', 'mysite.wsgi', '--bind', 'unix:{socket}', '--workers', '2']);
  });

  it('reads quotes and backslashes as a shell does', () => {
    assert.deepEqual(splitCommand(`app --name 'two words' --say "a \\"quoted\\" \\$HOME" plain\\ space ''`), ['app', '--name', 'two words', '--say', 'a "quoted" $HOME', 'plain space', '']);
  });

  it('runs nothing through a shell: operators and variables stay literal words', () => {
    assert.deepEqual(splitCommand('echo $HOME; rm -rf / && x | y'), ['echo', '$HOME;', 'rm', '-rf', '/', '&&', 'x', '|', 'y']);
  });

  it('refuses an unclosed quote', () => {
    assert.throws(() => splitCommand("app 'oops"), /unclosed single quote/);
    assert.throws(() => splitCommand('app "oops'), /unclosed double quote/);
  });
});

describe('commandArgv', () => {
  it('fills {socket} and {port} inside words, never splitting them', () => {
    const argv = commandArgv('gunicorn app --bind unix:{socket} --port={port}', { socket: '/state dir/run/app.sock', port: 41000 });
    assert.deepEqual(argv, { file: 'gunicorn', args: ['app', '--bind', 'unix:/state dir/run/app.sock', '--port=41000'] });
  });

  it('refuses an empty command', () => {
    assert.throws(() => commandArgv('   ', { socket: null, port: 0 }), /empty/);
  });

  it('leaves placeholders alone when there is no value for them', () => {
    assert.equal(fillPlaceholders('x {socket} {port}', { socket: null, port: 0 }), 'x {socket} {port}');
  });
});
