// modesl 1.2.1 ships no types (@types/modesl does not exist): the part the tests use.
declare module 'modesl' {
  import { EventEmitter } from 'node:events';
  export class Event {
    getHeader(name: string): string | null;
    getBody(): string;
    getType(): string;
    headers: Array<{ name: string; value: string }>;
  }
  export class Connection extends EventEmitter {
    constructor(host: string, port: number, password: string, readyCb?: () => void);
    api(command: string, cb: (res: Event) => void): void;
    bgapi(command: string, cb: (res: Event) => void): void;
    events(format: string, names: string, cb?: (res: Event) => void): void;
    subscribe(names: string[] | string, cb?: (res: Event) => void): void;
    disconnect(): void;
    connected(): boolean;
  }
}
